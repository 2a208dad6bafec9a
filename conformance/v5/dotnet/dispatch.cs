using Runtime;

// Test-only entry class. A compiled runtime is one program, so this class stands in for loading the entry file
// the shim names (Context.Entrypoint): main.cs runs its function (class Actions), the others fail to load as
// the kit expects (noexport.cs prints and has no Main, throwsatload.cs throws while its class initializes), and
// any other name is a missing file. A real runtime has one entry class.
class Dispatch
{
    static bool noExportLoaded;

    public async Task<RuntimeOutput> Main(Context context)
    {
        var entry = Context.Entrypoint;
        switch (System.IO.Path.GetFileName(entry).Split('.')[0])
        {
            case "main":
                return await new Actions().Main(context);
            case "noexport":
                if (!noExportLoaded) NoExport.Load();
                noExportLoaded = true;
                throw new LoadFailure("Function signature invalid. Did you forget to export a 'main' function?");
            case "throwsatload":
                try
                {
                    ThrowsAtLoad.Load();
                }
                catch (TypeInitializationException e)
                {
                    throw new LoadFailure(e.InnerException!.ToString(), e.InnerException);
                }
                break;
        }
        throw new LoadFailure($"Failed to load entrypoint, file {entry} does not exist.");
    }
}
