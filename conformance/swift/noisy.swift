import Foundation

func noisy(req: Request, res: Response) throws {
    let p = req.payload
    print("noisy-stdout \(p)")
    FileHandle.standardError.write(Data("noisy-stderr \(p)\n".utf8))
    // The child inherits the runtime's stdio; the payload goes in as $1, not spliced into the script.
    let child = Process()
    child.executableURL = URL(fileURLWithPath: "/bin/sh")
    child.arguments = ["-c", "echo noisy-child \"$1\"; echo noisy-child-err \"$1\" >&2", "sh", p]
    try child.run()
    child.waitUntilExit()
    FileHandle(fileDescriptor: 1, closeOnDealloc: false).write(Data("noisy-fd1 \(p)\n".utf8))
    res.send("quiet \(p)")
}
