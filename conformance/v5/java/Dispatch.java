import runtime.Context;

/**
 * Test-only entry class. A compiled runtime loads the one class it was built with, so this class stands in for
 * loading the entry file the shim names (Context.entrypoint()): main.java runs its function (class Main), and the
 * others are loaded here as the adapter would load them (noexport.java: a class with no main, throwsatload.java:
 * a class whose initializer throws; any other name is a missing file). A real runtime has one entry class.
 */
public class Dispatch {
    public Context.Output main(Context context) throws Exception {
        String entry = Context.entrypoint();
        String stem = entry.split("\\.")[0];
        switch (stem) {
            case "main":
                return new Main().main(context);
            case "noexport":
                try {
                    Class.forName("NoExport").getDeclaredMethod("main", Context.class);
                } catch (NoSuchMethodException e) {
                    throw new Context.LoadFailure("Function signature invalid. Did you forget to export a 'main' function?");
                }
                throw new IllegalStateException("NoExport has a main");
            case "throwsatload":
                try {
                    Class.forName("ThrowsAtLoad");
                } catch (ExceptionInInitializerError e) {
                    throw new Context.LoadFailure(e.getCause().toString(), e.getCause());
                }
                throw new IllegalStateException("ThrowsAtLoad loaded");
            default:
                throw new Context.LoadFailure("Failed to load entrypoint, file " + entry + " does not exist.");
        }
    }
}
