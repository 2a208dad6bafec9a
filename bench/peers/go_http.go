// The "hand-written server in a fast language" reference: Go's net/http doing the whole job in-process — key
// check (constant time), JSON decode, the seed function compiled in, JSON reply. A compiled runtime ignores
// path/file, as the contract allows. Env: PORT, KEY. GOMAXPROCS follows the CPUs it is pinned to.
package main

import (
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"os"
)

type execution struct {
	Path    string            `json:"path"`
	File    string            `json:"file"`
	Env     map[string]string `json:"env"`
	Payload string            `json:"payload"`
	Headers map[string]string `json:"headers"`
	Timeout float64           `json:"timeout"`
}

type seedReply struct {
	Normal  string  `json:"normal"`
	Env1    *string `json:"env1"`
	Payload string  `json:"payload"`
}

func fail(w http.ResponseWriter, code int, message string) {
	body, _ := json.Marshal(map[string]any{"code": code, "message": message})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	w.Write(body)
}

func main() {
	key := []byte(os.Getenv("KEY"))
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if len(key) == 0 || subtle.ConstantTimeCompare([]byte(r.Header.Get("x-internal-challenge")), key) != 1 {
			fail(w, 401, "Unauthorized")
			return
		}
		var e execution
		if err := json.NewDecoder(r.Body).Decode(&e); err != nil {
			fail(w, 400, "the body is not valid JSON: "+err.Error())
			return
		}
		out := seedReply{Normal: "Hello World!", Payload: e.Payload}
		if v, ok := e.Env["ENV1"]; ok {
			out.Env1 = &v
		}
		body, _ := json.Marshal(out)
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	})
	if err := http.ListenAndServe("127.0.0.1:"+os.Getenv("PORT"), nil); err != nil {
		os.Stderr.WriteString(err.Error() + "\n")
		os.Exit(1)
	}
}
