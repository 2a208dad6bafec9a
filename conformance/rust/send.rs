use runtime::{Request, Response};

pub fn main(req: Request, res: &mut Response) {
    res.send(format!("héllo wörld ✓ {}", req.payload), 201);
}
