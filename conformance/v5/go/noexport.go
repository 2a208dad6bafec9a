package cases

import "fmt"

// What noexport.go does while it loads: it prints natively, and it defines no Main.
func noExportLoads() {
	fmt.Println("Hello World")
}
