/* `guardian unpack-layer`, the child that unpacks one image layer (see unpack.c). */
#pragma once

/* argv[0] is "unpack-layer". Returns the exit status. */
int gd_unpack_main(int argc, char **argv);
