func noReply(req: Request, res: Response) {
    // returns without res.send() or res.json()
}
