# Loads fine, prints natively while it loads, and defines no main(context): a 503.
puts 'Hello World'
