/*
 * fuzz_vmem_trace.c - libFuzzer target: the input is text, replayed as a vmem trace
 * (docs/trace.md) by the engine of tools/vmem-trace. A trace comes from a boot log or
 * a file someone hands over, so the parser and the replay must survive any text:
 * malformed lines, impossible constraints, huge sizes, arenas used before init or
 * after destroy. Each line either replays or stops the replay with a message; nothing
 * may crash, read out of bounds or leak (the sanitizers watch), and whatever state a
 * replay reaches must pass vmem_check and agree with the reference model.
 *
 * Lines are made to replay more often than random text would by completing a line
 * that names no result with the one the replay will get: the fuzzer then only needs to
 * find interesting requests, not guess addresses.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../tools/vmem_replay.h"

#define REQUIRE(c)                                                                  \
	do {                                                                        \
		if (!(c)) {                                                         \
			fprintf(stderr, "fuzz_vmem_trace: %s:%d: %s\n", __FILE__, __LINE__, \
				#c);                                                \
			abort();                                                    \
		}                                                                   \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct replay rp;
	char line[512];
	size_t i = 0;

	rp_init(&rp);
	rp.check_every = 1;
	while (i < size) {
		size_t k = 0;
		while (i < size && data[i] != '\n' && k + 1 < sizeof(line))
			line[k++] = (char)data[i++];
		while (i < size && data[i] != '\n')
			i++;
		i++;
		line[k] = '\0';
		if (rp_replay_line(&rp, line) != 0) {
			REQUIRE(rp.msg[0] != '\0');
			break;
		}
	}
	/* Whatever the replay reached is a consistent arena that the model agrees with. */
	if (rp_finish(&rp) != 0) {
		fprintf(stderr, "fuzz_vmem_trace: final check: %s\n", rp.msg);
		abort();
	}
	rp_fini(&rp);
	REQUIRE(rp.pages_live == 0);
	return 0;
}
