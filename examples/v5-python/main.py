# A function for the open-runtimes v5 contract: `runtime-shim dev examples/v5-python --protocol v5`.
def main(context):
    name = context.req.query.get("name", "world")
    context.log("greeting", name)
    if context.req.method == "POST" and context.req.body_text:
        return context.res.json({"hello": name, "you_sent": context.req.body})
    return context.res.text("Hello, %s!" % name)
