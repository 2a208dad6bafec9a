export default (req: any, res: any) => res.send(`héllo wörld ✓ ${req.payload}`, 201);
