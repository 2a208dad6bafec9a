use runtime::{json, Request, Response};

// A function may also return a Result: an Err is a 500 with its Debug form.
pub fn main(req: Request, res: &mut Response) -> Result<(), std::io::Error> {
    res.json(json!({"nested": {"list": [1, 2.5, "three", true, null], "unicode": "✓"}, "payload": req.payload}), 202);
    Ok(())
}
