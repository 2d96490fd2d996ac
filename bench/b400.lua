local x = 0 for i = 1, 400 do x = x + i end return 1
