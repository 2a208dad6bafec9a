-- Loads fine, prints natively while it loads, and returns no function (and defines no main): a 503.
print('Hello World')
handler = 'not a function'
