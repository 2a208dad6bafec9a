// Compiles, but the function has the wrong name: the dispatcher knows no `main` here and answers 404.
use runtime::{Request, Response};

pub fn handler(_req: Request, res: &mut Response) {
    res.send("never called", 200);
}
