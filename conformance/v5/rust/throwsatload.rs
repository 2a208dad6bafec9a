//! Fails while it loads: a 503 with the error.
pub fn load() -> Result<(), Box<dyn std::error::Error>> {
    Err("Load failure".into())
}
