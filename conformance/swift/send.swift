func sendText(req: Request, res: Response) {
    res.send("héllo wörld ✓ \(req.payload)", 201)
}
