# embed.cmake: -DIN=file -DOUT=file.c -DSYM=name writes
#   const char name[] = {...,0}; const size_t name_len = N;
file(READ ${IN} hex HEX)
string(LENGTH "${hex}" n)
math(EXPR len "${n} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," body "${hex}")
string(REGEX REPLACE "((0x..,){16})" "\\1\n" body "${body}")
file(WRITE ${OUT} "/* generated from ${IN}; do not edit */\n#include <stddef.h>\n"
  "const char ${SYM}[] = {\n${body}0x00};\nconst size_t ${SYM}_len = ${len};\n")
