use runtime::{json, Request, Response};

pub fn main(req: Request, res: &mut Response) {
    res.json(
        json!({"env": req.env, "payload": req.payload, "headers": req.headers}),
        200,
    );
}
