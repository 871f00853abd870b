/* kukeond: the agent. Built out in issue 5; until then it says so. */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--version") == 0) {
        printf("kukeond %s\n", KUKEON_VERSION);
        return 0;
    }
    fprintf(stderr, "kukeond: the agent is not built yet\n");
    return 1;
}
