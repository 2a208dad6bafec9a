# Sources fine, prints natively while it loads, and defines no function main: a 503.
echo 'Hello World'
handler() { res_text 'never called'; }
