// Compiles, but the function has the wrong name: the dispatcher knows no main here and answers 404.
func handler(req: Request, res: Response) {
    res.send("never called")
}
