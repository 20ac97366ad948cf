/* quarantine.h - (being written) */
#ifndef FILTERS_QUARANTINE_H
#define FILTERS_QUARANTINE_H
#endif
