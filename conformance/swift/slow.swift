import Foundation

func slow(req: Request, res: Response) {
    Thread.sleep(forTimeInterval: Double(req.payload) ?? 30)
    res.send("woke")
}
