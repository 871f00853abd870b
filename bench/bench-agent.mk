# bench-agent-probe, the stopwatch of bench/bench-agent.sh, is a command with
# its own main(): link it alone, without the test harness (tests/lib/kktest.c
# has a main() too). An explicit rule, so it wins over the bench/% pattern.
$(BUILD)/bench/bench-agent-probe: $(BUILD)/obj/bench/bench-agent-probe.o
	@mkdir -p $(@D)
	$(CC) $(OPTFLAGS) $(KK_LDFLAGS) $(LDFLAGS) -o $@ $<
