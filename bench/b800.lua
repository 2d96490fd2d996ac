local x = 0 for i = 1, 800 do x = x + i end return 1
