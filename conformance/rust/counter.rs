use std::sync::atomic::{AtomicU64, Ordering};

use runtime::{json, Request, Response};

static COUNT: AtomicU64 = AtomicU64::new(0); // lives as long as the runtime process

pub fn main(_req: Request, res: &mut Response) {
    let count = COUNT.fetch_add(1, Ordering::SeqCst) + 1;
    res.json(json!({ "count": count }), 200);
}
