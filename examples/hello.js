// The seed's hello-world program: prints 1, then One.
"use strict";
function printNumber(input) {
  console.log(input);
}
function printString(input) {
  console.log(input);
}
printNumber(1);
printString("One");
