use runtime::{json, Request, Response};

pub fn main(req: Request, res: &mut Response) {
    res.json(
        json!({"normal": "Hello World!", "env1": req.env.get("ENV1"), "payload": req.payload}),
        200,
    );
}
