// Loads fine, prints natively while it loads, and has no main(context): a 503.
val loaded = println("Hello World")
