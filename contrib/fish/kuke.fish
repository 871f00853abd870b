# fish completion for kuke(1). Install as kuke.fish in a completions
# directory (make install: $(PREFIX)/share/fish/vendor_completions.d).
#
# Verbs, options, kinds, and names read from the state tree (--state,
# $KUKEON_STATE, the state of kukeond's configuration, or /opt/kukeon), so
# completion needs no running agent. Container names after -c/--container
# come from the cell's spec and its containers/ directory.

# Options that take a value (their value is never a positional argument).
set -g __kuke_valued -f --filename --state --manifests --realm --space --stack --cell -o --output \
    --restart --timeout --image --command --args --env -c --container -r -n --namespace -a \
    --containerd-address --run-dir --subnet-pool --config --namespace-prefix --nft-table \
    --cgroup-root --registries-config --auth-file --platform --tail

# __kuke_opt NAME DEFAULT: the value of --NAME on the line, else DEFAULT.
function __kuke_opt
    set -l tokens (commandline -opc)
    for i in (seq 2 (count $tokens))
        if test "$tokens[$i]" = "--$argv[1]"; and test $i -lt (count $tokens)
            echo $tokens[(math $i + 1)]
            return
        else if string match -q -- "--$argv[1]=*" $tokens[$i]
            string replace -- "--$argv[1]=" "" $tokens[$i]
            return
        end
    end
    echo $argv[2]
end

function __kuke_state
    set -l s (__kuke_opt state "")
    if test -n "$s"
        echo $s
        return
    end
    if set -q KUKEON_STATE; and test -n "$KUKEON_STATE"
        echo $KUKEON_STATE
        return
    end
    set -l cfg /etc/kukeon/kukeond.yaml
    set -q KUKEON_CONFIG; and set cfg $KUKEON_CONFIG
    set cfg (__kuke_opt config $cfg)
    set s (sed -n 's/^state:[[:space:]]*//p' $cfg 2>/dev/null | tail -1 | string trim -c '"')
    test -n "$s"; and echo $s; or echo /opt/kukeon
end

# __kuke_names LEVEL: realms (1), spaces (2), stacks (3) or cells (4).
function __kuke_names
    set -l dir (__kuke_state)
    test $argv[1] -ge 2; and set dir $dir/(__kuke_opt realm default)
    test $argv[1] -ge 3; and set dir $dir/(__kuke_opt space default)
    test $argv[1] -ge 4; and set dir $dir/(__kuke_opt stack default)
    for d in $dir/*/
        set -l n (basename $d)
        string match -q -- '_*' $n; or test $n = containers; or echo $n
    end
end

function __kuke_containers
    test -n "$argv[1]"; or return
    set -l dir (__kuke_state)/(__kuke_opt realm default)/(__kuke_opt space default)/(__kuke_opt stack default)/$argv[1]
    begin
        sed -n 's/^[[:space:]]*- id:[[:space:]]*"\{0,1\}\([^"[:space:]]*\).*/\1/p' $dir/cell.yaml 2>/dev/null
        for f in $dir/containers/*.yaml $dir/containers/*.log
            string replace -r '\.(yaml|log)$' '' (basename $f)
        end
    end | sort -u
end

# The words after the verb that are not options or their values.
function __kuke_args
    set -l tokens (commandline -opc)
    set -l skip 1
    set -l seen_verb 0
    set -l verb
    for t in $tokens[2..-1]
        if test $skip -eq 0
            set skip 1
            continue
        end
        if contains -- $t $__kuke_valued
            set skip 0
            continue
        end
        # exec's -e, -w and -u take a value (-w is --watch for get, events)
        if test "$verb" = exec; and contains -- $t -e -w --workdir -u --user
            set skip 0
            continue
        end
        string match -q -- '-*' $t; and continue
        if test $seen_verb -eq 0
            set seen_verb 1
            set verb $t
            continue
        end
        echo $t
    end
end

# The verb: the first word that is not an option (or --config's value).
function __kuke_verb
    set -l tokens (commandline -opc)
    set -l skip 1
    for t in $tokens[2..-1]
        if test $skip -eq 0
            set skip 1
            continue
        end
        if test "$t" = --config
            set skip 0
            continue
        end
        string match -q -- '-*' $t; and continue
        echo $t
        return
    end
end

# __kuke_at VERBS N: the verb is one of VERBS and N positional words follow it.
function __kuke_at
    contains -- (__kuke_verb) (string split ' ' $argv[1]); or return 1
    test (count (__kuke_args)) -eq $argv[2]
end

function __kuke_is
    contains -- (__kuke_verb) (string split ' ' $argv[1])
end

function __kuke_kind_names
    set -l kind (__kuke_args)[1]
    switch $kind
        case 'realm*'
            __kuke_names 1
        case 'space*'
            __kuke_names 2
        case 'stack*'
            __kuke_names 3
        case 'container*'
            __kuke_containers (__kuke_opt cell "")
        case inbox
        case '*'
            __kuke_names 4
    end
end

# The cell of logs/exec/attach: its first argument, else --cell.
function __kuke_cell
    set -l a (__kuke_args)
    test -n "$a[1]"; and echo $a[1]; or __kuke_opt cell ""
end

complete -c kuke -f
complete -c kuke -n 'test -z (__kuke_verb)' -l config -r -F -d 'kukeond configuration'
complete -c kuke -n 'test -z (__kuke_verb)' -l version -d 'print the version'
complete -c kuke -n 'test -z (__kuke_verb)' -a apply -d 'write manifests into the state tree (or --inbox)'
complete -c kuke -n 'test -z (__kuke_verb)' -a get -d 'list resources and their status'
complete -c kuke -n 'test -z (__kuke_verb)' -a delete -d 'delete resources (their spec files)'
complete -c kuke -n 'test -z (__kuke_verb)' -a create -d 'create a resource from flags'
complete -c kuke -n 'test -z (__kuke_verb)' -a start -d 'start a stopped cell'
complete -c kuke -n 'test -z (__kuke_verb)' -a stop -d 'stop a cell'
complete -c kuke -n 'test -z (__kuke_verb)' -a kill -d "send a signal to a cell's containers"
complete -c kuke -n 'test -z (__kuke_verb)' -a restart -d 'restart a cell'
complete -c kuke -n 'test -z (__kuke_verb)' -a pause -d 'freeze a cell'
complete -c kuke -n 'test -z (__kuke_verb)' -a resume -d 'thaw a paused cell'
complete -c kuke -n 'test -z (__kuke_verb)' -a logs -d "print a container's log"
complete -c kuke -n 'test -z (__kuke_verb)' -a validate -d 'check manifests offline'
complete -c kuke -n 'test -z (__kuke_verb)' -a image -d 'load, pull, list and remove images'
complete -c kuke -n 'test -z (__kuke_verb)' -a doctor -d 'check this host for kukeond'
complete -c kuke -n 'test -z (__kuke_verb)' -a describe -d 'show a resource'
complete -c kuke -n 'test -z (__kuke_verb)' -a events -d "print the agent's events"
complete -c kuke -n 'test -z (__kuke_verb)' -a exec -d 'run a command in a running container'
complete -c kuke -n 'test -z (__kuke_verb)' -a attach -d 'attach to a container'
complete -c kuke -n 'test -z (__kuke_verb)' -a run -d 'create (or start) a cell and attach'
complete -c kuke -n 'test -z (__kuke_verb)' -a version -d 'print the version'

# The common options of the verbs that read the state tree.
set -l tree 'apply get delete create start stop kill restart pause resume logs describe events exec attach run'
complete -c kuke -n "__kuke_is '$tree'" -l config -r -F -d 'kukeond configuration'
complete -c kuke -n "__kuke_is '$tree'" -l state -x -a '(__fish_complete_directories)' -d 'state tree'
complete -c kuke -n "__kuke_is '$tree'" -l manifests -x -a '(__fish_complete_directories)' -d inbox
complete -c kuke -n "__kuke_is '$tree image'" -l realm -x -a '(__kuke_names 1)' -d realm
complete -c kuke -n "__kuke_is '$tree'" -l space -x -a '(__kuke_names 2)' -d space
complete -c kuke -n "__kuke_is '$tree'" -l stack -x -a '(__kuke_names 3)' -d stack

complete -c kuke -n '__kuke_is apply' -s f -l filename -r -F -d manifest
complete -c kuke -n '__kuke_is apply' -l inbox -d 'copy into the inbox'
complete -c kuke -n '__kuke_is "apply delete start stop kill restart pause resume"' -l wait -d 'wait for the result'
complete -c kuke -n '__kuke_is "apply delete start stop kill restart pause resume"' -l timeout -x -d seconds

complete -c kuke -n '__kuke_at get 0' -a 'realms spaces stacks cells containers inbox'
complete -c kuke -n '__kuke_at "get delete describe events" 1' -a '(__kuke_kind_names)'
complete -c kuke -n '__kuke_is "get events"' -s o -l output -x -a 'yaml json wide' -d format
complete -c kuke -n '__kuke_is "get events"' -s w -l watch -d 'print changes as they come'
complete -c kuke -n '__kuke_is "get delete describe events create"' -l cell -x -a '(__kuke_names 4)' -d cell

complete -c kuke -n '__kuke_at "delete describe events create" 0' -a 'realm space stack cell container'
complete -c kuke -n '__kuke_is delete' -s f -r -F -d manifest
complete -c kuke -n '__kuke_is delete' -l cascade -d 'with its children'

complete -c kuke -n '__kuke_is create' -l image -x -d image
complete -c kuke -n '__kuke_is create' -l command -x -d command
complete -c kuke -n '__kuke_is create' -l args -x -d argument
complete -c kuke -n '__kuke_is create' -l env -x -d K=V
complete -c kuke -n '__kuke_is create' -l restart -x -a 'no always on-failure unless-stopped' -d 'restart policy'

complete -c kuke -n '__kuke_at "start stop kill restart pause resume" 0' -a cell
complete -c kuke -n '__kuke_at "start stop kill restart pause resume" 1' -a '(__kuke_names 4)'
complete -c kuke -n '__kuke_at kill 2' -a 'TERM KILL INT HUP QUIT USR1 USR2'

complete -c kuke -n '__kuke_at "logs exec attach run" 0' -a '(__kuke_names 4)'
complete -c kuke -n '__kuke_is "logs exec attach"' -s c -l container -x -a '(__kuke_containers (__kuke_cell))' -d container
complete -c kuke -n '__kuke_is logs' -s f -l follow -d 'keep printing'
complete -c kuke -n '__kuke_is logs' -l tail -x -d lines
complete -c kuke -n '__kuke_is exec' -s i -l interactive -d 'pass stdin'
complete -c kuke -n '__kuke_is exec' -s t -l tty -d 'a terminal'
complete -c kuke -n '__kuke_is exec' -s e -l env -x -d 'K=V'
complete -c kuke -n '__kuke_is exec' -s w -l workdir -x -d 'working directory'
complete -c kuke -n '__kuke_is exec' -s u -l user -x -d 'uid[:gid] or name'
complete -c kuke -n '__kuke_is exec' -s a -l containerd-address -r -d 'containerd socket'

complete -c kuke -n '__kuke_is validate' -s q -l quiet -d 'nothing for valid files'
complete -c kuke -n '__kuke_is validate' -F

complete -c kuke -n '__kuke_at image 0' -a 'load ls rm pull'
complete -c kuke -n '__kuke_is image' -s r -x -a '(__kuke_names 1)' -d realm
complete -c kuke -n '__kuke_is image' -s n -l namespace -x -d 'containerd namespace'
complete -c kuke -n '__kuke_is "image doctor"' -l namespace-prefix -x -d 'realm namespace prefix'
complete -c kuke -n '__kuke_is "image doctor"' -s a -l containerd-address -r -F -d 'containerd socket'
complete -c kuke -n '__kuke_is "image doctor"' -l state -x -a '(__fish_complete_directories)' -d 'state tree'
complete -c kuke -n '__kuke_is "image doctor"' -l config -r -F -d 'kukeond configuration'
complete -c kuke -n '__kuke_is image' -l no-unpack -d 'content only'
complete -c kuke -n '__kuke_is image' -s q -l quiet -d quiet
complete -c kuke -n '__kuke_is image; and contains pull (__kuke_args)' -l registries-config -r -F -d registries.yaml
complete -c kuke -n '__kuke_is image; and contains pull (__kuke_args)' -l auth-file -r -F -d auth.json
complete -c kuke -n '__kuke_is image; and contains pull (__kuke_args)' -l platform -x -a 'linux/amd64 linux/arm64 linux/arm/v7 linux/386 linux/ppc64le linux/s390x linux/riscv64' -d platform
complete -c kuke -n '__kuke_is image; and contains load (__kuke_args)' -F

complete -c kuke -n '__kuke_is doctor' -l run-dir -x -a '(__fish_complete_directories)' -d 'run directory'
complete -c kuke -n '__kuke_is doctor' -l subnet-pool -x -d CIDR
complete -c kuke -n '__kuke_is doctor' -l cgroup-root -x -d 'cgroup subtree'
complete -c kuke -n '__kuke_is doctor' -l nft-table -x -d 'nft table'
