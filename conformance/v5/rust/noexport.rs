//! Loads fine, prints natively while it loads, and has no main(context): a 503.
pub fn load() {
    println!("Hello World");
}
