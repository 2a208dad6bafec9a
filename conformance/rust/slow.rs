use std::time::Duration;

use runtime::{Request, Response};

pub fn main(req: Request, res: &mut Response) {
    std::thread::sleep(Duration::from_secs_f64(req.payload.parse().unwrap_or(30.0)));
    res.send("woke", 200);
}
