// Loads fine, but exports no function: the adapter answers 404.
export const notAFunction = 1;
