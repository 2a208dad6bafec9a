// A function for the open-runtimes v5 contract: `runtime-shim dev examples/v5-node --protocol v5`.
module.exports = async (context) => {
  const name = context.req.query.name || 'world';
  context.log('greeting', name);
  if (context.req.method === 'POST' && context.req.bodyText) {
    return context.res.json({ hello: name, you_sent: context.req.body });
  }
  return context.res.text(`Hello, ${name}!`);
};
