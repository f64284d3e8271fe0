#ifndef NNC_VERSION_H
#define NNC_VERSION_H
#define NNC_VERSION "0.1.0"
#endif
