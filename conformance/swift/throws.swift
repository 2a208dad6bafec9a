func innerHelper() throws {
    throw RuntimeError("boom from user code")
}

func throwing(req: Request, res: Response) throws {
    try innerHelper()
    res.send("unreachable")
}
