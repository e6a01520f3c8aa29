#include "tap.h"
static const iso_test cases[] = {{NULL, NULL}};
int main(int argc, char** argv) { return iso_test_main(argc, argv, cases); }
