/* One version string for the whole suite (lib/cli.h prints it; garden-init, which links no
 * library, includes this alone). */
#pragma once

#define GDN_VERSION "0.1.0"
