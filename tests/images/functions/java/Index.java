import runtime.Request;
import runtime.Response;

/** The image test's entry class: the Java runtime calls Index.main; the seed function is conformance/java/seed.java. */
public class Index {
    public void main(Request req, Response res) throws Exception {
        new Seed().main(req, res);
    }
}
