var count = 0 // lives as long as the runtime process

func counter(req: Request, res: Response) {
    count += 1
    res.json(["count": count])
}
