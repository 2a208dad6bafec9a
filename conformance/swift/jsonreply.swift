func jsonReply(req: Request, res: Response) async throws {
    try await Task.sleep(nanoseconds: 1_000) // an async function: awaited before the reply
    let list: [Any?] = [1, 2.5, "three", true, nil]
    res.json(["nested": ["list": list, "unicode": "✓"], "payload": req.payload], 202)
}
