// Loads fine, prints natively while it loads, and exports no function: a 503.
console.log('Hello World');
export const main = 'not a function';
