use runtime::{Request, Response};

fn inner_helper() {
    panic!("boom from user code");
}

pub fn main(_req: Request, res: &mut Response) {
    inner_helper();
    res.send("unreachable", 200);
}
