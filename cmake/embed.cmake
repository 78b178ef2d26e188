# Turn a data file into a C source defining rh_data_<NAME>[] and its length.
# Invoked as: cmake -DNAME=n -DIN=file -DOUT=file.c -P embed.cmake
file(READ ${IN} hex HEX)
string(LENGTH "${hex}" hexlen)
math(EXPR len "${hexlen} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," body "${hex}")
string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n" body "${body}")
file(WRITE ${OUT} "/* Generated from ${IN} by cmake/embed.cmake. Do not edit. */\n#include <stddef.h>\n"
	"extern const unsigned char rh_data_${NAME}[];\nextern const size_t rh_data_${NAME}_len;\n"
	"const unsigned char rh_data_${NAME}[] = {\n${body}0x00\n};\n"
	"const size_t rh_data_${NAME}_len = ${len};\n")
