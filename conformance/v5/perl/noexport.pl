# Compiles fine, prints natively while it compiles, and defines no sub main: a 503.
print "Hello World\n";
