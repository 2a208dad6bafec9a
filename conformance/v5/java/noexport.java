// Loads fine, prints natively while it loads, and has no main(Context): a 503.
class NoExport {
    static {
        System.out.println("Hello World");
    }
}
