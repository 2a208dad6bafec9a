import Foundation

func crash(req: Request, res: Response) {
    exit(3)
}
