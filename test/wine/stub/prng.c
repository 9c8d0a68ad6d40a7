/* ProcessPrng for Wine 8.0, which lacks it: Go 1.26's runtime on Windows
   reads its random bytes from bcryptprimitives.dll's ProcessPrng and stops
   at start without it. RtlGenRandom (SystemFunction036) gives the same. */
#include <windows.h>
#define SystemFunction036 NTAPI SystemFunction036
#include <ntsecapi.h>
#undef SystemFunction036

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) { return RtlGenRandom(data, (ULONG)len); }
