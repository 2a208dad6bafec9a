// Fails while it loads: a 503 with the error.
class ThrowsAtLoad {
    static final int VALUE = fail();

    private static int fail() {
        throw new RuntimeException("Load failure");
    }
}
