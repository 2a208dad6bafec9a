use runtime::{Request, Response};

pub fn main(_req: Request, _res: &mut Response) {
    // returns without res.send() or res.json()
}
