func echo(req: Request, res: Response) {
    res.json(["env": req.env, "payload": req.payload, "headers": req.headers])
}
