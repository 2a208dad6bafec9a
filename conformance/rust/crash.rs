use runtime::{Request, Response};

pub fn main(_req: Request, _res: &mut Response) {
    std::process::exit(3);
}
