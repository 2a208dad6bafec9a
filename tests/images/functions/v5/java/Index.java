// The v5 image test's java function (tests/images/v5.sh): proves the install command ran in the build folder
// before the compile (V5dep.java, which it writes, is compiled in) and the v5 context API.
import java.util.LinkedHashMap;
import java.util.Map;
import runtime.Context;

public class Index {
    public Context.Output main(Context context) throws Exception {
        context.log("java function log", Map.of("n", 1));
        context.error("java function error line");
        System.out.println("java native print");
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("runtime", "java");
        out.put("method", context.req.method);
        out.put("path", context.req.path);
        out.put("query", context.req.query);
        out.put("body", context.req.body());
        out.put("built", V5dep.BUILT);
        out.put("dependency", V5dep.DEPENDENCY);
        return context.res.json(out, 201, Map.of("x-v5-test", "yes"));
    }
}
